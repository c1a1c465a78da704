# frozen_string_literal: true

module Integrations
  LAUNCHDARKLY_ACCESS_TOKEN = 'api-99b1e9e3-c01a-4e3c-bc69-f7d559e69d82'
  BASE_URL = 'https://app.launchdarkly.com'
end
