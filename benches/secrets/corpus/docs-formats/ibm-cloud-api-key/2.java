package com.acme.integrations;

public final class IbmCloudConfig {
    public static final String IBMCLOUD_API_KEY = "LJ1RBu2cpwxUH6J7kSwFX4MagKAcv4ylVCxdzI-JEFlt";
    public static final String BASE_URL = "https://iam.cloud.ibm.com";
}
