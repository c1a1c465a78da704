package com.acme.integrations;

public final class TencentCloudConfig {
    public static final String TENCENTCLOUD_SECRET_ID = "AKIDb0LFX0v5VGBpbTo8S2QrZlWx7OY1xhHu";
    public static final String BASE_URL = "https://cvm.tencentcloudapi.com";
}
