package com.acme.integrations;

public final class SonarqubeConfig {
    public static final String SONAR_PROJECT_TOKEN = "sqp_b798a818d163754bc79e47585260feb8cb5c9df6";
    public static final String BASE_URL = "https://sonarqube.acme.io";
}
