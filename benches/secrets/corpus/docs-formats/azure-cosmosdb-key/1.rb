# frozen_string_literal: true

module Integrations
  COSMOS_DB_PRIMARY_KEY = 'MlnounO5gCeryV5efoFNfau9gRj5v6xFMrug+khjM+WVaMHBe6pFdt2Gcx1p93A/1+tQmr+XA8YAO/kdMZndSQ=='
  BASE_URL = 'https://acct.documents.azure.com'
end
