package com.acme.integrations;

public final class CohereConfig {
    public static final String COHERE_API_KEY = "4oTUrHjoLR4DwjYfYJPackLbgWf18PsufSgLALlw";
    public static final String BASE_URL = "https://api.cohere.com";
}
