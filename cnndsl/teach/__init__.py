"""The teaching tools: explain (the arithmetic behind each number), compare (networks side by side),
gradflow (gradient norms layer by layer), show (filters and feature maps) and the lessons' figures."""
