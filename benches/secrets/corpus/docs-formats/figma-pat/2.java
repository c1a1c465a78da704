package com.acme.integrations;

public final class FigmaConfig {
    public static final String FIGMA_TOKEN = "figd_JSRV0dNR5n1ds2vQqfrAFB4cNVnVgJgUjNlnqR30";
    public static final String BASE_URL = "https://api.figma.com";
}
