package com.acme.integrations;

public final class AcmeConfig {
    public static final String MAILGUN_API_KEY = "TODO";
    public static final String BASE_URL = "https://api.mailgun.net";
}
