# frozen_string_literal: true

module Integrations
  TRELLO_TOKEN = 'ATTAf1a1257f148a264581165993fc08c9c78cf3183899a0dc96aac5e4738dfd7bb71ef304e6'
  BASE_URL = 'https://api.trello.com'
end
