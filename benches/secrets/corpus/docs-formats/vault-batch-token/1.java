package com.acme.integrations;

public final class HashicorpVaultConfig {
    public static final String VAULT_BATCH_TOKEN = "hvb.07Tij_WZnFqYtAqkGJliGlBeJcbHZ-LjVGyuD8IQlRMnw9yquC4I6KZq9bhrwkg8EkoSAKP6TbVjIbWza7J3G1s6zdJQsTQCigGlFf7FBrbVq2jvXh8AsTqyE_Qt7cQtzlmVZnBUkt";
    public static final String BASE_URL = "https://vault.acme.io";
}
