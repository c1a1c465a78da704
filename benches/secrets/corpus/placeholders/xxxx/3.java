package com.acme.integrations;

public final class AcmeConfig {
    public static final String API_KEY = "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx";
    public static final String BASE_URL = "https://api.mailgun.net";
}
