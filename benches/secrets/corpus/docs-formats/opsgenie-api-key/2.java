package com.acme.integrations;

public final class OpsgenieConfig {
    public static final String OPSGENIE_API_KEY = "73ece93d-5f33-4f83-84b0-5fa28ff4d93c";
    public static final String BASE_URL = "https://api.opsgenie.com";
}
