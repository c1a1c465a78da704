# frozen_string_literal: true

module Integrations
  AZURE_DEVOPS_PAT = 'iazrQmxQ38RVsXjILEXWeHFSsxSqvoPwEgOffByTKA5xEPo8gFmiNvACkjaw5qk51BoCTo0FBY2mAZDO3z8I'
  BASE_URL = 'https://dev.azure.com'
end
