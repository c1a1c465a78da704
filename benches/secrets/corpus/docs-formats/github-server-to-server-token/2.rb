# frozen_string_literal: true

module Integrations
  GH_INSTALLATION_TOKEN = 'ghs_jfQXgJfrwZRzLVqps0DQ80R3mWHEw22JaOeu'
  BASE_URL = 'https://api.github.com'
end
