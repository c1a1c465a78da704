package com.acme.integrations;

public final class ClickupConfig {
    public static final String CLICKUP_API_TOKEN = "pk_891031572_48D982NQOODIH89VZMMCAS36QHA59Q8Z";
    public static final String BASE_URL = "https://api.clickup.com";
}
