package com.acme.integrations;

public final class SlackConfig {
    public static final String SLACK_APP_TOKEN = "xapp-1-AIQFFERJCUR-4808021736993-358d511855a5ee58d729f5a7c59a20d635e3c97a262c1fdaafe17cf66a975e60";
    public static final String BASE_URL = "https://slack.com";
}
