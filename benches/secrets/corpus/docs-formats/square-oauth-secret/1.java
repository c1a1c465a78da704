package com.acme.integrations;

public final class SquareConfig {
    public static final String SQUARE_APPLICATION_SECRET = "sq0csp-YVdTC3zWaTmEoNxtxbsGvok08w21MvFSpPKygdyHDOC";
    public static final String BASE_URL = "https://connect.squareup.com";
}
