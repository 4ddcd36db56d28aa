"""Store agent: retail data, semantic layer, SQL guard, knowledge base and the LangGraph graph."""
