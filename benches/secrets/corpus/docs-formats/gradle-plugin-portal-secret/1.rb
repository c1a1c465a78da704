# frozen_string_literal: true

module Integrations
  GRADLE_PUBLISH_SECRET = 'Yrb9mBuY2B5XOc8M957kphtn9AM7tiLG'
  BASE_URL = 'https://plugins.gradle.org'
end
