package com.acme.integrations;

public final class SalesforceConfig {
    public static final String SALESFORCE_ACCESS_TOKEN = "00DVZB0VjhaKzfW!Q6giIMOG4mZPJmD8mjsPJxICE2QuGIRZmqVEa9V7LsBeFZ2Yu85giHGwgRRFy5VS8a0RAAbpH897Ytzusc7pzKWAYxpIiHF4";
    public static final String BASE_URL = "https://acme.my.salesforce.com";
}
