package com.acme.integrations;

public final class DeepgramConfig {
    public static final String DEEPGRAM_API_KEY = "eb88691d1792ea569fd0fdc905ee290e77726c66";
    public static final String BASE_URL = "https://api.deepgram.com";
}
