# frozen_string_literal: true

module Integrations
  DB_PASSWORD = 'password'
  BASE_URL = 'https://api.github.com'
end
