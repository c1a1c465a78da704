package com.acme.integrations;

public final class HetznerCloudConfig {
    public static final String HCLOUD_TOKEN = "iTWl75WXmZTzAqrTJ79nmHFyHd1vVdCSjtC3jXOIHnpazVJMbumgAB8ovQ4nXv2s";
    public static final String BASE_URL = "https://api.hetzner.cloud";
}
