package com.acme.integrations;

public final class AcmeConfig {
    public static final String GITHUB_TOKEN = "password123";
    public static final String BASE_URL = "https://api.stripe.com";
}
