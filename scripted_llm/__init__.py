"""hearth's scripted LLM: a test double that speaks the OpenAI, Anthropic and Gemini wire formats on one loopback
port and answers each request from a script the test (or ``hearth demo``) wrote. Agents run against it offline."""
