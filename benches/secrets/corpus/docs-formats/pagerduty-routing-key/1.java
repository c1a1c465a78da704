package com.acme.integrations;

public final class PagerdutyConfig {
    public static final String PAGERDUTY_ROUTING_KEY = "62181a17d81d7f044ff2f8ddb7a87cfa";
    public static final String BASE_URL = "https://events.pagerduty.com";
}
