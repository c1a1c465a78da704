package com.acme.integrations;

public final class AzureStorageConfig {
    public static final String AZURE_STORAGE_ACCOUNT_KEY = "vF/10l8e+7bAUDQmZtSumGDblVtNUjydb6bLt+Xy/vnD6qWaeUctIpo5TwZs5SaGMllwQ8DrAqQWqJKJGcEHcw==";
    public static final String BASE_URL = "https://acct.blob.core.windows.net";
}
