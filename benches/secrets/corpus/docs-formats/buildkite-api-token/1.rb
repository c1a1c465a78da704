# frozen_string_literal: true

module Integrations
  BUILDKITE_API_TOKEN = 'bkua_f73143fbe5849c569f9aa77f2064ba7d41fa9f2a'
  BASE_URL = 'https://api.buildkite.com'
end
