# frozen_string_literal: true

module Integrations
  CARGO_REGISTRY_TOKEN = 'cioKeJ4baDN5wYnr8v4rFDUv9Fs10QyzcQG'
  BASE_URL = 'https://crates.io'
end
