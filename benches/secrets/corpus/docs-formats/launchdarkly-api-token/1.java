package com.acme.integrations;

public final class LaunchdarklyConfig {
    public static final String LAUNCHDARKLY_ACCESS_TOKEN = "api-eb037594-fe4e-436b-8912-580433bceb99";
    public static final String BASE_URL = "https://app.launchdarkly.com";
}
