package com.acme.integrations;

public final class MetaConfig {
    public static final String FACEBOOK_ACCESS_TOKEN = "EAAGNPoQ8y9t6TA3trEZqtVBEr9kEm8OruSljtTH0SuebHIpoCsvvPldkmG1mP5Yrm0ufqdB9fl0LMOPvYx87gm9tjjNsEdcgqsAa4kCA0RHYx7lHKZsQ5FDIE8C32fyp0TxMyNTmAIAS0ZhIcWUuK58q4Hcl7rBcJaAD4l3PFXqDMMA13hLLAq3";
    public static final String BASE_URL = "https://graph.facebook.com";
}
