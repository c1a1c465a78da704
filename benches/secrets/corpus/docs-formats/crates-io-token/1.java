package com.acme.integrations;

public final class CratesIoConfig {
    public static final String CARGO_REGISTRY_TOKEN = "cioXWo8y0n4g99hQ696xQPAV2AwOVkYAzzd";
    public static final String BASE_URL = "https://crates.io";
}
