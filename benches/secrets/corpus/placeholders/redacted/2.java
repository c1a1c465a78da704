package com.acme.integrations;

public final class AcmeConfig {
    public static final String MAILGUN_API_KEY = "[REDACTED]";
    public static final String BASE_URL = "https://api.github.com";
}
