package com.acme.integrations;

public final class PulumiConfig {
    public static final String PULUMI_ACCESS_TOKEN = "pul-b3d46b33206f09718cde6445b9e42f93c73acad9";
    public static final String BASE_URL = "https://api.pulumi.com";
}
