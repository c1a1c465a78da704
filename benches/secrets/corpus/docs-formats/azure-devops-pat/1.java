package com.acme.integrations;

public final class AzureDevopsConfig {
    public static final String AZURE_DEVOPS_PAT = "mbplp1ZU3bKyXRMJMbx5Q5DdgnmxVqK4UJ0lR4HTWADN5Sj39bYVKpXsIJZ7qG9Y2XFERf4vDXzMAZDO7e2Y";
    public static final String BASE_URL = "https://dev.azure.com";
}
