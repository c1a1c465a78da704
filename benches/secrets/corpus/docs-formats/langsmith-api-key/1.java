package com.acme.integrations;

public final class LangsmithConfig {
    public static final String LANGSMITH_API_KEY = "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";
    public static final String BASE_URL = "https://api.smith.langchain.com";
}
