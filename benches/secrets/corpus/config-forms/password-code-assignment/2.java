class Db {
    private static final String DB_PASSWORD = "MJi1hSTSwga3uRGB";
}
