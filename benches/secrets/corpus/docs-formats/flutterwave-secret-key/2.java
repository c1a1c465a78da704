package com.acme.integrations;

public final class FlutterwaveConfig {
    public static final String FLW_SECRET_KEY = "FLWSECK-4a8e0d464595294d9bc88e8bffe25e84-X";
    public static final String BASE_URL = "https://api.flutterwave.com";
}
