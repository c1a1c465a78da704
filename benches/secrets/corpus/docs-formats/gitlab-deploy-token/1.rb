# frozen_string_literal: true

module Integrations
  GITLAB_DEPLOY_TOKEN = 'gldt-Dj4p3NopTj7VLWiclDUo'
  BASE_URL = 'https://registry.gitlab.com'
end
