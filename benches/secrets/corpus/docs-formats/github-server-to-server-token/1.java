package com.acme.integrations;

public final class GithubConfig {
    public static final String GH_INSTALLATION_TOKEN = "ghs_m4Nqy2e22xrlOkQFMpBRYkrFUOfy4B19nTVR";
    public static final String BASE_URL = "https://api.github.com";
}
