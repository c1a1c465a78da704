# frozen_string_literal: true

module Integrations
  SONAR_PROJECT_TOKEN = 'sqp_84033b1bfaea16e3022e8525217a2380d5482475'
  BASE_URL = 'https://sonarqube.acme.io'
end
