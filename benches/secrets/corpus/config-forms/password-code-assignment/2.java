class Db {
    private static final String DB_PASSWORD = "myg~yv.RQbwekC3NS";
}
