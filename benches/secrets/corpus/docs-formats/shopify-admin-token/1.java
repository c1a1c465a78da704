package com.acme.integrations;

public final class ShopifyConfig {
    public static final String SHOPIFY_ACCESS_TOKEN = "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";
    public static final String BASE_URL = "https://acme.myshopify.com";
}
