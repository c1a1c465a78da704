package com.acme.integrations;

public final class OpenaiConfig {
    public static final String OPENAI_SVCACCT_KEY = "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";
    public static final String BASE_URL = "https://api.openai.com";
}
