package com.acme.integrations;

public final class JenkinsConfig {
    public static final String JENKINS_API_TOKEN = "11218c5c2d1f389b37d5d8674fcb6455ef";
    public static final String BASE_URL = "https://jenkins.internal.acme.io";
}
