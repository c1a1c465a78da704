# frozen_string_literal: true

module Integrations
  API_KEY = 'none'
  BASE_URL = 'https://api.datadoghq.com'
end
