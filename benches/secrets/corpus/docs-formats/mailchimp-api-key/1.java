package com.acme.integrations;

public final class MailchimpConfig {
    public static final String MAILCHIMP_API_KEY = "87c1e5bf8a5c0ef29c83b50e7331ac2a-us1";
    public static final String BASE_URL = "https://us6.api.mailchimp.com";
}
