package com.acme.integrations;

public final class HerokuConfig {
    public static final String HEROKU_API_KEY = "HRKU-AAUY-U-jwzFtGBg1b_a1ZzAGapwOmThMUw1R03-QSIHvL9csoz4QnZQN-Bmz";
    public static final String BASE_URL = "https://api.heroku.com";
}
