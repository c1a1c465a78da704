package com.acme.integrations;

public final class TypeformConfig {
    public static final String TYPEFORM_TOKEN = "tfp_ErQoB0aVwUqUj54NZNaWmhcRisjgEi07BCWvI1yxRUtZ_IrjIvQfnVhWc64";
    public static final String BASE_URL = "https://api.typeform.com";
}
