package com.acme.integrations;

public final class NewRelicConfig {
    public static final String NEW_RELIC_API_KEY = "NRAK-EC7SK26FIH05Y2J8NMZPPNKNPOD";
    public static final String BASE_URL = "https://api.newrelic.com";
}
