package com.acme.integrations;

public final class BitbucketConfig {
    public static final String BITBUCKET_APP_PASSWORD = "ATBBu9eIa1fl4mwQ2t75wqUTvnaD0N6A6bO0";
    public static final String BASE_URL = "https://api.bitbucket.org";
}
