package com.acme.integrations;

public final class GitlabConfig {
    public static final String REGISTRATION_TOKEN = "GR1348941wZZADydqVU-Ak6MJHp6y";
    public static final String BASE_URL = "https://gitlab.com";
}
