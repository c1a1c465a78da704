package com.acme.integrations;

public final class HexPmConfig {
    public static final String HEX_API_KEY = "84d1b862479f93080b2d2b93c56fda4a";
    public static final String BASE_URL = "https://hex.pm";
}
