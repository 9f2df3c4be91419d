"""Local stand-ins for GitHub and for an OpenAI-compatible model, served over real HTTP."""
